"""`digest build`: the static HTML site, its feeds, search index and MathML."""
