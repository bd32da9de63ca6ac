"""Package data of the measures app (shipped files, each folder with its provenance)."""
