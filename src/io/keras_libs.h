/* libhdf5 and libzip, loaded on first use (keras_libs.c says why they are not linked).
 *
 * keras_h5.c, keras_optimizer_state.c and keras_zip.c include this header after <hdf5.h> and
 * <zip.h>: every name below then calls through a table of pointers that rnn__keras_libs_load()
 * fills from the libraries (dlopen, dlsym), so the code reads as plain libhdf5 and libzip calls.
 * Each entry point of those files calls rnn__keras_libs_load() before its first call. A call to
 * a function missing from these lists fails to link (the name is then undefined): add it here.
 * H5T_NATIVE_FLOAT and the other predefined types are variables in libhdf5 (H5T_NATIVE_FLOAT_g,
 * read after H5open()), so they are in the table too. */
#ifndef RNN_IO_KERAS_LIBS_H
#define RNN_IO_KERAS_LIBS_H

#include <hdf5.h>
#include <zip.h>

#include "rnn.h"

#define RNN_H5_FUNCTIONS(X) \
    X(H5Aclose) X(H5Acreate2) X(H5Aexists) X(H5Aget_space) X(H5Aget_type) X(H5Aopen) X(H5Aread) \
    X(H5Awrite) X(H5Dclose) X(H5Dcreate2) X(H5Dget_space) X(H5Dget_type) X(H5Dopen2) X(H5Dread) \
    X(H5Dvlen_reclaim) X(H5Dwrite) X(H5Eset_auto2) X(H5Fclose) X(H5Fcreate) X(H5Fflush) \
    X(H5Fget_file_image) X(H5Fopen) X(H5Gclose) X(H5Gcreate2) X(H5Gopen2) X(H5Iget_type) \
    X(H5Lexists) X(H5Pclose) X(H5Pcreate) X(H5Pset_create_intermediate_group) \
    X(H5Pset_fapl_core) X(H5Pset_file_image) X(H5Sclose) X(H5Screate) X(H5Screate_simple) \
    X(H5Sget_simple_extent_dims) X(H5Sget_simple_extent_ndims) X(H5Sget_simple_extent_npoints) \
    X(H5Tclose) X(H5Tcopy) X(H5Tget_class) X(H5Tget_cset) X(H5Tget_size) X(H5Tis_variable_str) \
    X(H5Tset_cset) X(H5Tset_size) X(H5Tset_strpad) X(H5check_version) X(H5open)

#define RNN_H5_VARIABLES(X) \
    X(H5P_CLS_FILE_ACCESS_ID_g) X(H5P_CLS_LINK_CREATE_ID_g) X(H5T_C_S1_g) X(H5T_IEEE_F32LE_g) \
    X(H5T_IEEE_F64LE_g) X(H5T_NATIVE_FLOAT_g) X(H5T_NATIVE_INT64_g) X(H5T_STD_I64LE_g)

#define RNN_ZIP_FUNCTIONS(X) \
    X(zip_close) X(zip_discard) X(zip_error_fini) X(zip_error_init_with_code) \
    X(zip_error_strerror) X(zip_fclose) X(zip_file_add) X(zip_fopen) X(zip_fread) X(zip_open) \
    X(zip_set_file_compression) X(zip_source_buffer) X(zip_source_free) X(zip_stat) \
    X(zip_stat_init) X(zip_strerror)

#define RNN_KERAS_LIBS_FIELD(name) __typeof__(name) *name;
typedef struct {
    RNN_H5_FUNCTIONS(RNN_KERAS_LIBS_FIELD)
    RNN_H5_VARIABLES(RNN_KERAS_LIBS_FIELD)
} rnn_h5_api;
typedef struct {
    RNN_ZIP_FUNCTIONS(RNN_KERAS_LIBS_FIELD)
} rnn_zip_api;
#undef RNN_KERAS_LIBS_FIELD

extern rnn_h5_api rnn__h5;
extern rnn_zip_api rnn__zip;

/* Loads libhdf5 and libzip (once; thread-safe). RNN_OK, or RNN_ERR_UNSUPPORTED with a message
 * naming the library that could not be loaded and why. */
rnn_status rnn__keras_libs_load(void);

/* Tests only, before the first load: the file names to load the libraries by. */
void rnn__keras_libs_set_sonames(const char *h5, const char *zip);

#ifndef RNN_KERAS_LIBS_TABLE /* keras_libs.c fills the table by the real names */
/* Every call below goes through the table that rnn__keras_libs_load() filled. */
#define H5Aclose (*rnn__h5.H5Aclose)
#define H5Acreate2 (*rnn__h5.H5Acreate2)
#define H5Aexists (*rnn__h5.H5Aexists)
#define H5Aget_space (*rnn__h5.H5Aget_space)
#define H5Aget_type (*rnn__h5.H5Aget_type)
#define H5Aopen (*rnn__h5.H5Aopen)
#define H5Aread (*rnn__h5.H5Aread)
#define H5Awrite (*rnn__h5.H5Awrite)
#define H5Dclose (*rnn__h5.H5Dclose)
#define H5Dcreate2 (*rnn__h5.H5Dcreate2)
#define H5Dget_space (*rnn__h5.H5Dget_space)
#define H5Dget_type (*rnn__h5.H5Dget_type)
#define H5Dopen2 (*rnn__h5.H5Dopen2)
#define H5Dread (*rnn__h5.H5Dread)
#define H5Dvlen_reclaim (*rnn__h5.H5Dvlen_reclaim)
#define H5Dwrite (*rnn__h5.H5Dwrite)
#define H5Eset_auto2 (*rnn__h5.H5Eset_auto2)
#define H5Fclose (*rnn__h5.H5Fclose)
#define H5Fcreate (*rnn__h5.H5Fcreate)
#define H5Fflush (*rnn__h5.H5Fflush)
#define H5Fget_file_image (*rnn__h5.H5Fget_file_image)
#define H5Fopen (*rnn__h5.H5Fopen)
#define H5Gclose (*rnn__h5.H5Gclose)
#define H5Gcreate2 (*rnn__h5.H5Gcreate2)
#define H5Gopen2 (*rnn__h5.H5Gopen2)
#define H5Iget_type (*rnn__h5.H5Iget_type)
#define H5Lexists (*rnn__h5.H5Lexists)
#define H5Pclose (*rnn__h5.H5Pclose)
#define H5Pcreate (*rnn__h5.H5Pcreate)
#define H5Pset_create_intermediate_group (*rnn__h5.H5Pset_create_intermediate_group)
#define H5Pset_fapl_core (*rnn__h5.H5Pset_fapl_core)
#define H5Pset_file_image (*rnn__h5.H5Pset_file_image)
#define H5Sclose (*rnn__h5.H5Sclose)
#define H5Screate (*rnn__h5.H5Screate)
#define H5Screate_simple (*rnn__h5.H5Screate_simple)
#define H5Sget_simple_extent_dims (*rnn__h5.H5Sget_simple_extent_dims)
#define H5Sget_simple_extent_ndims (*rnn__h5.H5Sget_simple_extent_ndims)
#define H5Sget_simple_extent_npoints (*rnn__h5.H5Sget_simple_extent_npoints)
#define H5Tclose (*rnn__h5.H5Tclose)
#define H5Tcopy (*rnn__h5.H5Tcopy)
#define H5Tget_class (*rnn__h5.H5Tget_class)
#define H5Tget_cset (*rnn__h5.H5Tget_cset)
#define H5Tget_size (*rnn__h5.H5Tget_size)
#define H5Tis_variable_str (*rnn__h5.H5Tis_variable_str)
#define H5Tset_cset (*rnn__h5.H5Tset_cset)
#define H5Tset_size (*rnn__h5.H5Tset_size)
#define H5Tset_strpad (*rnn__h5.H5Tset_strpad)
#define H5check_version (*rnn__h5.H5check_version)
#define H5open (*rnn__h5.H5open)
#define H5P_CLS_FILE_ACCESS_ID_g (*rnn__h5.H5P_CLS_FILE_ACCESS_ID_g)
#define H5P_CLS_LINK_CREATE_ID_g (*rnn__h5.H5P_CLS_LINK_CREATE_ID_g)
#define H5T_C_S1_g (*rnn__h5.H5T_C_S1_g)
#define H5T_IEEE_F32LE_g (*rnn__h5.H5T_IEEE_F32LE_g)
#define H5T_IEEE_F64LE_g (*rnn__h5.H5T_IEEE_F64LE_g)
#define H5T_NATIVE_FLOAT_g (*rnn__h5.H5T_NATIVE_FLOAT_g)
#define H5T_NATIVE_INT64_g (*rnn__h5.H5T_NATIVE_INT64_g)
#define H5T_STD_I64LE_g (*rnn__h5.H5T_STD_I64LE_g)
#define zip_close (*rnn__zip.zip_close)
#define zip_discard (*rnn__zip.zip_discard)
#define zip_error_fini (*rnn__zip.zip_error_fini)
#define zip_error_init_with_code (*rnn__zip.zip_error_init_with_code)
#define zip_error_strerror (*rnn__zip.zip_error_strerror)
#define zip_fclose (*rnn__zip.zip_fclose)
#define zip_file_add (*rnn__zip.zip_file_add)
#define zip_fopen (*rnn__zip.zip_fopen)
#define zip_fread (*rnn__zip.zip_fread)
#define zip_open (*rnn__zip.zip_open)
#define zip_set_file_compression (*rnn__zip.zip_set_file_compression)
#define zip_source_buffer (*rnn__zip.zip_source_buffer)
#define zip_source_free (*rnn__zip.zip_source_free)
#define zip_stat (*rnn__zip.zip_stat)
#define zip_stat_init (*rnn__zip.zip_stat_init)
#define zip_strerror (*rnn__zip.zip_strerror)
#endif

#endif
