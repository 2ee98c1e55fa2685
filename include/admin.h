/* The operator's command line: passerelle admin instances|members|queue|notice, over blocking
 * libpq. */
#ifndef PASSERELLE_ADMIN_H
#define PASSERELLE_ADMIN_H

/*
 * Runs "passerelle admin ..." with argv the words after "admin". config_path may be NULL;
 * "-c FILE" or "--config FILE" among the words (before a "--") sets it too. Every action
 * is one transaction on its own connection; never call this from the event loop. Returns
 * the exit code: 0 done, 1 runtime or database error (on stderr), 2 usage error (nothing
 * was changed).
 */
int admin_main(const char *config_path, int argc, char **argv);

#endif
