"""One router per resource; `serve.api` includes them all."""
