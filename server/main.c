/*
 * main.c -- the `quiver-server` program: the same entry point as
 * `quiver serve`, for deployments that expect a server binary (the
 * Dockerfile, service managers).  `quiver-server --port 6333` equals
 * `quiver serve --port 6333`.
 */
#include "server.h"

int main(int argc, char **argv)
{
    return qvs_serve_main(argc, argv);
}
