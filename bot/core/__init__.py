"""The sans-I/O core: documents, findings, change sets and the pipeline."""
