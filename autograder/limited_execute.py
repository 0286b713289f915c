"""nbgrader's Execute preprocessor, keeping at most ``max_output_bytes`` of output per cell.

nbgrader's own LimitOutput trims outputs only after the notebook has run, so a cell that prints without
end fills the grader's memory first (until the cell's time limit). This one stops collecting a cell's
output once it has received that much, and says so in the notebook. Set in nbgrader_config.py through
``c.Autograde.autograde_preprocessors``.
"""

import nbformat
from nbgrader.preprocessors import Execute
from traitlets import Integer


class LimitedExecute(Execute):
    """Execute, dropping a cell's output past ``max_output_bytes``."""

    max_output_bytes = Integer(2_000_000, help="Output kept per cell, in bytes of message content.").tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        if getattr(self, "_counted_notebook", None) is not self.nb:  # a new notebook: new counts
            self._counted_notebook, self._output_bytes = self.nb, {}
        received = self._output_bytes.get(cell_index, 0) + len(str(msg.get("content", "")))
        self._output_bytes[cell_index] = received
        if received <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if received - len(str(msg.get("content", ""))) <= self.max_output_bytes:  # the first message past the limit
            note = nbformat.v4.new_output("stream", name="stdout", text=f"\n[output truncated by the grader after "
                                                                         f"{self.max_output_bytes} bytes]\n")
            outs.append(note)
            return note
        return None
