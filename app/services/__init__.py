"""Use cases, one verb-named function each: load → clinicqueue → write → commit → publish."""
