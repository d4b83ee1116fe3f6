"""spaCy's side: pipelines and their layout and lexeme features, answers merged into training data, training, pretraining, evaluation and fields."""
