"""One module per verb: (workspace, options) -> result object. Nothing here prints."""
