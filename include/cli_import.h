/* passerelle import: the command line's way to link an X archive to a member. */
#ifndef PASSERELLE_CLI_IMPORT_H
#define PASSERELLE_CLI_IMPORT_H

/* argv after "import"; returns the exit code (0 linked, 1 refused or failed, 2 usage). */
int cli_import_main(int argc, char **argv);

#endif
