"""The browser edition: the lessons in JupyterLite with the Pyodide kernel, one folder that
runs offline (python -m glm_lessons.browser build --dest DIR).

site.py (which lessons, the front page), build.py (Pyodide, the wheels, the lock, jupyter
lite build), pictures.py (the lessons' pictures drawn at build time), run.py (a lesson run
in-process under CPython, without sockets), compare.py (what a check compares of outputs),
threads.py (in the edition's kernel: thread pools that run their work one call at a time).
"""
