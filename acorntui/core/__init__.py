"""Pure rules: parser, status, nights, server refs, textsafe. Stdlib only."""
