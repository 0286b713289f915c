"""nbgrader configuration of the course. This folder is the course root: nbgrader's source/,
release/, submitted/, autograded/, feedback/ folders and gradebook.db live here and are built, not
committed. The reference notebooks themselves live in ../solutions (the single source);
`make release` copies them into source/cnn/ before running nbgrader.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "cnn-from-scratch"
c.Exchange.root = os.path.join(COURSE_ROOT, "exchange")

# What a student finds in place of each solution region.
c.ClearSolutions.code_stub = {
    "python": 'raise NotImplementedError("Your code here: replace this line (see the hint above).")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
