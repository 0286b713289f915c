"""nbgrader's settings for the Validate button of `make lab` (JupyterLab finds this file in jupyter-config/,
which the Makefile puts on JUPYTER_CONFIG_PATH). Validate runs your notebook from top to bottom in a fresh
kernel and lists the checks that fail, as grading would."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# A cell may run for 120 seconds, as in grading (nbgrader's default is 30; notebook 03 trains a network).
c.Execute.timeout = 120

# The cells that only teach (figures and demos, tagged "teaching") are left out, as in grading and `make check`:
# notebook 04's speed table and deeper networks alone take half a minute. (Grading and `make check` still run
# such a cell when your own code uses a name it defines; Validate, which goes by the tag only, does not.)
c.Execute.skip_cells_with_tag = "teaching"
