/*
 * snapshot_cmd.h -- the `quiver snapshot` command (cli/snapshot_cmd.c).
 */
#ifndef QUIVER_CLI_SNAPSHOT_CMD_H
#define QUIVER_CLI_SNAPSHOT_CMD_H

/* `quiver snapshot info|verify FILE`; argv[0] is "snapshot".  Returns the
 * exit status: 0 success, 1 failure (bad file), 2 usage error. */
int qvc_snapshot_main(int argc, char **argv);

#endif /* QUIVER_CLI_SNAPSHOT_CMD_H */
