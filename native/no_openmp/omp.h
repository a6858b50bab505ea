// Stand-in for <omp.h> when the addon is built without OpenMP (binding.gyp: deepnode_openmp=false,
// the default on macOS and Windows prebuilds, which cannot count on an OpenMP runtime being
// installed). This folder is on the include path only then; the `#pragma omp` lines are ignored
// and every kernel runs on the calling thread, with the same results.
#ifndef DEEPNODE_NO_OPENMP_OMP_H
#define DEEPNODE_NO_OPENMP_OMP_H

inline int omp_get_max_threads() { return 1; }
inline int omp_get_num_threads() { return 1; }
inline int omp_get_thread_num() { return 0; }
inline int omp_in_parallel() { return 0; }
inline void omp_set_num_threads(int) {}

#endif
