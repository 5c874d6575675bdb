"""gunicorn entry point: `gunicorn wsgi:app`."""

from quiz_app import create_app

app = create_app()
