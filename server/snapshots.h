/*
 * snapshots.h -- what the collection snapshot code (snapshots.c) shares
 * with the whole-storage snapshots (snapshots_full.c): names, private
 * temporary directories, saving a collection's library members, their
 * archive header entry, and the SnapshotDescription of a file.
 */
#ifndef QUIVER_SERVER_SNAPSHOTS_H
#define QUIVER_SERVER_SNAPSHOTS_H

#include "server.h"

#include <stdbool.h>
#include <stddef.h>

/* A plain file name ending in .snapshot (no separator, no leading dot). */
bool qvs_snap_name_ok(const char *name);

/* A fresh private STORAGE/snapshots/.tmp-XXXXXX directory (buf); removed
 * with qvs_snap_rm_tree, or at the next start if the server dies. */
bool qvs_snap_make_tmp(const qvs_req *req, char *buf, size_t cap);
void qvs_snap_rm_tree(const char *dir);

/* tmp/m<i>.qvs: where member i of a collection is saved. */
void qvs_snap_member_path(char *buf, size_t cap, const char *tmp, size_t i);

/* Saves every library collection of c to tmp/m<i>.qvs (*n of them) under
 * c's write_mu, so named vectors land together. */
bool qvs_snap_save_members(qvs_coll *c, const char *tmp, size_t *n,
                           qvs_resp *r);

/* {"collection": <as catalog.json records it>, "members": [{"size",
 * "xxh3"}...]} for the n members saved in tmp; NULL on failure. */
cJSON *qvs_snap_archive_header(qvs_catalog *cat, qvs_coll *c, const char *tmp,
                               size_t n);

/* Qdrant's SnapshotDescription of dir/name (SHA-256 checksum), or NULL. */
cJSON *qvs_snap_describe(const char *dir, const char *name);

/* STORAGE/snapshots/<coll> (created, with STORAGE/snapshots, when make
 * is set); false when the path does not fit or cannot be created. */
bool qvs_snap_dir(const qvs_req *req, const char *coll, bool make, char *buf,
                  size_t cap);

/* Writes c's snapshot archive to path crash-safely (temporary name,
 * fsync, rename, directory fsync); fails into r. */
bool qvs_snap_write(const qvs_req *req, qvs_coll *c, const char *path,
                    qvs_resp *r);

/* r->result: the SnapshotDescriptions of the *.snapshot files in dir, by
 * name (an empty list when dir is "" or missing). */
void qvs_snap_list_dir(const char *dir, qvs_resp *r);

/* Checks (checksum, when given) and restores the archive at path as the
 * collection named by the request's first path parameter; sets r's
 * result (true) or 202. */
bool qvs_snap_restore_from(const qvs_req *req, const char *path,
                           const char *checksum, qvs_resp *r);

/* The local path of a recover location: a file:// path inside the
 * storage (403 outside, 404 missing) or a snapshot name of the request's
 * collection. */
bool qvs_snap_location_path(const qvs_req *req, const char *loc, char *out,
                            size_t cap, qvs_resp *r);

/* Downloads url (allowed hosts only) and restores it as
 * qvs_snap_restore_from does. */
void qvs_snap_recover_url(const qvs_req *req, const char *url,
                          const char *checksum, qvs_resp *r);

/* ?wait=false on the request. */
bool qvs_snap_wait_false(const qvs_req *req);

/* The reply that sends the snapshot file at path (download routes). */
void qvs_snap_send_file(const char *path, qvs_resp *r);

/* Removes the snapshot file at path durably and replies true (202 with
 * wait=false), or 500 with the reason (delete routes). */
void qvs_snap_remove_file(const qvs_req *req, const char *path, qvs_resp *r);

/* Restores every collection and alias of the whole-storage snapshot at
 * path (POST /snapshots) into cat, at start-up before the server listens
 * (`quiver serve --storage-snapshot PATH`, Qdrant's flag).  A collection
 * that exists already is replaced when force is set, else kept (the
 * archive's copy skipped), as Qdrant's --force-snapshot; likewise an
 * alias.  *restored counts the collections written.  False with a
 * message in err when the archive is damaged or cannot be written;
 * collections restored before the failure stay.  Not concurrent with
 * requests. */
bool qvs_snap_restore_storage(qvs_catalog *cat, const char *path, bool force,
                              size_t *restored, char *err, size_t cap);

/* The same for one collection snapshot (Qdrant's --snapshot PATH:NAME):
 * restored as collection name unless it exists and force is not set
 * (*restored false then). */
bool qvs_snap_restore_collection(qvs_catalog *cat, const char *path,
                                 const char *name, bool force, bool *restored,
                                 char *err, size_t cap);

#endif /* QUIVER_SERVER_SNAPSHOTS_H */
