"""glm_lessons: what the course's notebooks use around the recorded server.

    from glm_lessons import connect, exercise_checks

    BASE_URL, API_KEY, server = connect("en", lesson="02")   # the live/offline switch
    check = exercise_checks("en", lesson="02")               # the exercises' checks

lesson.py (connect(), its live stand-in, and the kernel's one recorded server,
shared_server()), environment.py (ZHIPUAI_API_KEY and ZHIPUAI_BASE_URL pointed at the recorded
server and put back), layout.py (which notebooks are lessons), recordings.py (the setup's line
on where a lesson's recordings come from), live_errors.py and model_watch.py (live mode's
one-line messages), plots.py (the lessons' pictures: the `lessons` extra, matplotlib and a CJK
font), checks/ (one module of exercise checks per lesson).

Imports go one way: glm_lessons uses glm_offline (the server) and glm_client (the learners'
client); neither of them imports glm_lessons (tests/repo/test_seams.py).
"""

from .checks import exercise_checks
from .lesson import connect, shared_server

__all__ = ["connect", "exercise_checks", "shared_server"]
