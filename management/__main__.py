from management.cli import app

app()
