"""Weight converters: one module per source, the layout transforms written once in `layout`."""
