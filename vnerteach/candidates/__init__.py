"""ner.teach's candidates: ``suggester`` combines the model in the loop and the pattern matcher into scored questions;
``sensible`` tells, from the shape of the words alone, which spans no annotator would accept or look like a name."""
