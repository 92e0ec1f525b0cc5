// cuGetExportTable: simgpu serves the CUDA runtime's private tables from common/cudart_tables,
// through its own entry points.
#include "common/cudart_tables.h"

extern "C" {

CUresult CUDAAPI cuGetExportTable(const void** table, const CUuuid* id) {
  return vxpu::ServeExportTable(table, id, "simgpu");
}

}  // extern "C"
