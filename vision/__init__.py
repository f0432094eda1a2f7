"""Vision: sampled frames -> faces, face prints, on-screen text, QR codes.

Not built yet. The ingest stage already samples frames into every Window (`Window.frames`,
1 fps by default) for this stage; face matching, OCR and the AI-label check come with the
AI-impersonation issue. Nothing in the current pipeline reads frames.
"""

__all__: list[str] = []
