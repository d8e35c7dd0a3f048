"""End-to-end tests of the wired daemon: a package, so daemon_process is imported relatively."""
