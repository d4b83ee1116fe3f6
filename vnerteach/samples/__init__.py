"""Sample data for the demo: news sentences (news.jsonl) and synthetic receipts made on demand."""

from pathlib import Path

NEWS = Path(__file__).parent / "news.jsonl"
