"""Everything that reads outside the input bytes, runs a process or talks to a network."""
