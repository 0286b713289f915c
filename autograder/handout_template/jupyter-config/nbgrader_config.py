"""nbgrader's settings for the Validate button of `make lab` (JupyterLab finds this file in jupyter-config/,
which the Makefile puts on JUPYTER_CONFIG_PATH). Validate runs your notebook from top to bottom in a fresh
kernel and lists the checks that fail, as grading would."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# A cell may run for 120 seconds, as in grading (nbgrader's default is 30; notebook 03 trains a network).
c.Execute.timeout = 120
