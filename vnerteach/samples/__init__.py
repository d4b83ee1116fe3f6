"""Sample data for the demo: synthetic receipts made on demand (python -m vnerteach.samples.receipts)."""
