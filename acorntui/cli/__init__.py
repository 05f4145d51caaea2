"""The `acorntui` command line: main, and commands/ named after the commands they hold."""
