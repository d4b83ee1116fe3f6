"""ner.teach's candidates: the questions a suggester makes from the model in the loop and the pattern matches."""
