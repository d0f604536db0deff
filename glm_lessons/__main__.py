"""python -m glm_lessons lab [en|zh] | reset NN: the lessons on the learner's own copies
(glm_lessons/workspace.py)."""

import sys

from .workspace import main

sys.exit(main())
