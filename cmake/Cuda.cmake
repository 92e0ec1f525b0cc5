# Finds the CUDA toolkit headers (cuda.h) through CMake's CUDAToolkit module, which looks at
# nvcc on the PATH, CUDAToolkit_ROOT and /usr/local/cuda. Only headers (and the link stub of
# libcuda for the samples) are needed: no GPU, no driver.
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND OR NOT EXISTS "${CUDAToolkit_INCLUDE_DIRS}/cuda.h")
  message(FATAL_ERROR
    "vxpu: CUDA toolkit headers not found (need cuda.h). Install the CUDA toolkit, put nvcc on "
    "the PATH, or pass -DCUDAToolkit_ROOT=/path/to/cuda.")
endif()
message(STATUS "vxpu: cuda.h from ${CUDAToolkit_INCLUDE_DIRS} (CUDA ${CUDAToolkit_VERSION})")

# Header-only interface target for code that includes cuda.h but must not link the driver.
add_library(vxpu_cuda_headers INTERFACE)
target_include_directories(vxpu_cuda_headers SYSTEM INTERFACE ${CUDAToolkit_INCLUDE_DIRS})
