# Instruction-set specific sources are compiled with their own flags and only
# ever called after a run-time CPU feature check (kernels/cpu_features.h). The
# file name's suffix says which: _amx, _avx512vnni, _avx512bf16, _avx512, _avx2.
# (_amx: the real AMX tile instructions; s8s8_amx_emulated.cpp, the emulator,
# does not end in _amx.cpp and stays portable.)
function(sqsim_set_isa_flags)
  foreach(src IN LISTS ARGN)
    if(src MATCHES "_amx\\.cpp$")
      set(flags "-mamx-tile;-mamx-int8;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq")
    elseif(src MATCHES "_avx512vnni\\.cpp$")
      set(flags "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni")
    elseif(src MATCHES "_avx512bf16\\.cpp$")
      set(flags "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512bf16")
    elseif(src MATCHES "_avx512\\.cpp$")
      set(flags "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq")
    elseif(src MATCHES "_avx2\\.cpp$")
      set(flags "-mavx2;-mfma;-mf16c")
    else()
      continue()
    endif()
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${flags}")
  endforeach()
endfunction()
