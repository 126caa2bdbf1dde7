/* accctrl.h — npfs: SE_OBJECT_TYPE lives in aclapi.h; this header includes it. */
#ifndef NPFS_ACCCTRL_H
#define NPFS_ACCCTRL_H
#include "aclapi.h"
#endif
