"""The data layer: reading inputs and building dataset folders from open data."""
