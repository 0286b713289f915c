"""The instructor's side of the kit: nbgrader course configuration and release tooling."""
