from harvest_cli.main import app

app(prog_name="tiktok-harvest")
