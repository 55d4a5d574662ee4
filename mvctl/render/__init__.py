"""Pure formatting of result objects (text, markdown, JSON) and the Console that writes them."""
