"""The web app's server: the bottle app and its API, the threaded WSGI server, request guards."""
