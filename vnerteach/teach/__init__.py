"""The model in the loop: it scores and suggests candidates, learns from each answer, ranks what to ask next."""
