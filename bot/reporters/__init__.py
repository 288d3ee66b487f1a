"""Pure renderers of a Report."""
