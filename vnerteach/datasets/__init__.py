"""What is done with a dataset's answers: exports, annotators' agreement, review of differing versions."""
