//! Log files: `kubectl logs --timestamps` with or without `--prefix`, and plain logs.
