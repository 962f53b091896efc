"""Files on disk: crash-safe writes into the tree, no-overwrite renames, crash points for tests."""
