"""Pure spatial analysis and file handling: no web framework, no database session."""
