from caseapp import create_app

app = create_app()
