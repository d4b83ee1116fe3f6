"""Documents: a page of an image or PDF becomes words with boxes."""
