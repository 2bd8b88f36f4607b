#include "fcnet/h5contained.h"

#include <stdio.h>

#include "fcnet/h5quiet.h"

enum { FOREIGN_FOUND = 1 };

typedef struct visit_state {
    char *object, *reason;
    size_t object_size, reason_size;
} visit_state;

static const char *const SELF_ONLY = "fcnet reads only data stored in the file itself";

/* Where the raw data of the dataset obj is not in the file: "external storage" or "a virtual dataset". */
static const char *foreign_storage(hid_t obj)
{
    hid_t dcpl = H5Dget_create_plist(obj);
    if (dcpl < 0) return NULL; /* the reader reports what it cannot open */
    const char *what = H5Pget_layout(dcpl) == H5D_VIRTUAL
                           ? "a virtual dataset (its data is mapped from other datasets, perhaps in other files)"
                       : H5Pget_external_count(dcpl) > 0 ? "stored in external files"
                                                         : NULL;
    H5Pclose(dcpl);
    return what;
}

static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    visit_state *s = data;
    if (info->type == H5L_TYPE_SOFT) return 0; /* a path inside this file: its target is visited itself */
    if (info->type != H5L_TYPE_HARD) {
        char target[512] = "";
        const char *file = NULL, *object = NULL;
        if (info->type == H5L_TYPE_EXTERNAL && info->u.val_size <= sizeof target &&
            H5Lget_val(group, name, target, sizeof target, H5P_DEFAULT) >= 0 &&
            H5Lunpack_elink_val(target, info->u.val_size, NULL, &file, &object) >= 0) {
            snprintf(s->reason, s->reason_size, "an external link (to %s:%s); %s", file, object, SELF_ONLY);
        } else {
            snprintf(s->reason, s->reason_size, "%s; %s",
                     info->type == H5L_TYPE_EXTERNAL ? "an external link" : "a user-defined link", SELF_ONLY);
        }
        snprintf(s->object, s->object_size, "/%s", name);
        return FOREIGN_FOUND;
    }
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) { /* a header that cannot be read: the file is corrupted (see fc_h5_foreign_object) */
        char desc[256];
        snprintf(s->reason, s->reason_size, "/%s: %s", name, fc_h5_innermost(desc, sizeof desc, "H5Oopen failed"));
        return -1;
    }
    const char *what = H5Iget_type(obj) == H5I_DATASET ? foreign_storage(obj) : NULL;
    H5Oclose(obj);
    if (!what) return 0;
    snprintf(s->object, s->object_size, "/%s", name);
    snprintf(s->reason, s->reason_size, "%s; %s", what, SELF_ONLY);
    return FOREIGN_FOUND;
}

int fc_h5_foreign_object(hid_t file, char *object, size_t object_size, char *reason, size_t reason_size)
{
    visit_state s = {object, reason, object_size, reason_size};
    reason[0] = '\0';
    /* H5Lvisit reports every link below the root without following external or soft links */
    const herr_t r = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, visit_link, &s);
    if (r == FOREIGN_FOUND) return 1;
    if (r >= 0) return 0;
    /* A group or object whose header cannot be read. Reported now: HDF5 would afterwards show that group
     * without the links it lost, and a reader would call a member "missing" in a file that is corrupted. */
    if (!reason[0]) fc_h5_innermost(reason, reason_size, "H5Lvisit failed");
    return -1;
}

int fc_h5_missing_filter(hid_t dset, char *reason, size_t reason_size)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return 0; /* the reader reports what it cannot open */
    int missing = 0;
    const int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n && !missing; i++) {
        unsigned flags = 0, config = 0;
        size_t n_values = 0;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_values, NULL, sizeof name, name, &config);
        /* Optional or not (h5py marks lzf optional): "optional" lets a write skip the filter, but a chunk
         * that was filtered cannot be read without it. */
        if (id < 0 || H5Zfilter_avail(id) > 0) continue;
        missing = 1;
        snprintf(reason, reason_size,
                 "compressed with filter '%s' (id %d), which this HDF5 library does not have (no plugin for it in "
                 "HDF5_PLUGIN_PATH)",
                 name[0] ? name : "unnamed", (int)id);
    }
    H5Pclose(dcpl);
    return missing;
}

/* Storage never written reads as the fill value: refuse it, as a file cut short is refused. Chunks are
 * counted (H5Dget_space_status compares bytes, so a compressed dataset would look partly written). */
int fc_h5_never_written(hid_t dset)
{
    hid_t dcpl = H5Dget_create_plist(dset), space = H5Dget_space(dset);
    int missing = 0;
    if (dcpl >= 0 && space >= 0 && H5Sget_simple_extent_npoints(space) > 0) {
        if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
            hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], want = 1, have = 0;
            const int rank = H5Sget_simple_extent_dims(space, dims, NULL);
            if (rank > 0 && H5Pget_chunk(dcpl, rank, chunk) == rank) {
                for (int i = 0; i < rank; i++) want *= chunk[i] ? (dims[i] + chunk[i] - 1) / chunk[i] : 0;
                missing = H5Dget_num_chunks(dset, space, &have) >= 0 && have < want;
            }
        } else {
            H5D_space_status_t status;
            missing = H5Dget_space_status(dset, &status) >= 0 && status == H5D_SPACE_STATUS_NOT_ALLOCATED;
        }
    }
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    return missing;
}
