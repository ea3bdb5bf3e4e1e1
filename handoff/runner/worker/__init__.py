"""The code that runs inside the sandbox, around a bot's ``main(event, context)``.

Everything in this package is standard library only: the sandbox sees the
Python install and its site-packages, never the server's source tree, so this
directory is bind-mounted on its own and started with ``python -m``.
"""
