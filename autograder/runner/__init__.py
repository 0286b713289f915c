"""The only instructor-side code mounted in the grading sandbox, beside the student package ``cnnkit``.

It calls the student's classes and reports what they do (:mod:`.harvest`), and runs the graded cells'
hidden blocks in the grading kernel (:mod:`.hidden_tests`) on the cases of a public seed stored as data
(``kernel_cases.npz``). It holds no answer: nothing here computes what a layer should return.
"""
