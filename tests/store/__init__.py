"""The log's tests: a package, so its modules import its conftest's helpers relatively."""
